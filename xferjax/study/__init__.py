"""The three-phase study and its report."""
