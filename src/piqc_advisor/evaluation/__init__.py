"""Evaluation: run rules over facts, isolate crashes, and assess every checklist item."""
