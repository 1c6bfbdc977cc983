"""Scoring with a registered version: batch files (`keel predict`) and online (`keel serve`)."""
