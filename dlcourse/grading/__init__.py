"""Grading a class: untrusted notebooks run in sandboxes, the grader judges plain data in its own process.

``dlcourse grade MODULE SOURCE`` (:mod:`engine`) takes a folder, an LMS zip or one notebook (:mod:`intake`),
restores every submitted notebook against the gradebook's source cells (:mod:`prepare`), and runs it in a
bubblewrap sandbox (:mod:`sandbox`) with the in-process kernel of :mod:`runner` / :mod:`kernel`: cells run in
an IPython shell; at each graded test cell backed by an exercise the student's functions are called on every
public and hidden case and their outputs kept as plain arrays (:mod:`plain`). The grader then judges those
arrays against its own references, and reads the source with ast for tampering and, in from-scratch modules,
library use (:mod:`static_rules`, :mod:`judging`). Graded cells without an exercise keep nbgrader's rule on
their executed output. Workers grade in parallel; the main process alone writes the gradebook
(:mod:`gradebook`) and the resume state (:mod:`state`); :mod:`report` writes the grades CSV, nbgrader's
export and the class summary; :mod:`feedback` renders pages without hidden tests. ``dlcourse check``
(:mod:`student_check`) runs the same pipeline on a student's notebook, visible tests only.
"""
