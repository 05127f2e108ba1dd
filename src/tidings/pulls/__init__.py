"""The worker side of pulls: the loop that runs them when due."""
