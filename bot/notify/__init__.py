"""Delivering the outbox: the dispatcher, the message texts, and the senders per channel."""
