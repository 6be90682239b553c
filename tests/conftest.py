"""Shared fixtures (each defined next to the helper it wraps)."""

from kafka_broker import kafka_broker

__all__ = ["kafka_broker"]
