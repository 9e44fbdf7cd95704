"""The Rasa client and the inbound message pipeline shared by every channel."""
