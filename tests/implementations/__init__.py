"""Other implementations of the graded functions, kept as data for the test-the-tests harness."""
