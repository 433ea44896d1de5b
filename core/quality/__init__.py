"""Checks on the annotators' own work: blind audits, a reading floor, consistency. Pure functions."""
