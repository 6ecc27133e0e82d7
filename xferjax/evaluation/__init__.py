"""XTREME evaluation: the official scorer, number for number, and retrieval.

* `metrics`: accuracy, seqeval entity F1, SQuAD/MLQA EM and F1, BUCC F1,
  UDPOS token accuracy, as pure functions on in-memory data.
* `tasks`: the table of the nine XTREME tasks (languages, file format, metric).
* `submission`: reading and writing the official submission layout, and
  turning model outputs (sub-word tags, answer spans) into it.
* `scorer`: `score_task` (in memory, for evaluation during training) and
  `score_submission` (a folder, as `xferjax xtreme-score` does).
* `retrieval`: pooled sentence embeddings, blocked k-NN, BUCC margin mining
  and Tatoeba search, with a layer sweep.
* `xtreme_cli`: the `xtreme-score` command's arguments and entry point.
"""
