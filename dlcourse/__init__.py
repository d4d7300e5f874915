"""dlcourse: deep learning for image processing, with autograded exercises."""
__version__ = "0.1.0"
