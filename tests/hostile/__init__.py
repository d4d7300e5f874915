"""Hostile submissions of module 01 as data: what each student hands in, and the exact grade it must get.

``kit`` builds student notebooks from the module's release with the solution's answers filled in (or left
blank); the grading benchmark builds its class with it too. ``cases.CASES`` lists the hostile submissions,
each a correct or blank notebook with one hostile edit; ``cases.write_class`` writes them as a class folder
in nbgrader's layout.
"""
