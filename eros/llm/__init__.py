"""Outbound model clients: chat, embeddings, model routing, offline providers and fakes."""
