"""Writes of the companions app: sessions, the chat turn, affinity and post-process."""
