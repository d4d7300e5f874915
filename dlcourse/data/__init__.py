"""Where the course's data come from; import the public API from `dlcourse.datasets`."""
