"""dlcourse: deep learning for image processing, with autograded exercises."""
__version__ = "0.1.0"


def check_this_notebook():
    """Check the notebook this cell is in, as grading will (visible tests); see dlcourse.grading.student_check."""
    from .grading.student_check import check_this_notebook as check

    return check()
