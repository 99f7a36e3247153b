"""Capacity planning: hardware facts, the iteration's workload, memory and roofline models."""
