"""Vocabularies, feature converters, batching and masking, file readers."""
