"""Grading a class: intake of submissions, autograding, feedback and the grades report."""
