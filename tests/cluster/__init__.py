"""Tests against a cluster: autoscaling, fake cluster up, job submission, faults, scale,
S3."""
