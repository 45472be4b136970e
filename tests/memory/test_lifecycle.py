"""Soft delete and restore."""

from __future__ import annotations

import uuid

import pytest

from companions.models import ChatSession
from memory.models import CompanionMemory
from memory.services import memory_restore, memory_soft_delete


@pytest.fixture
def memory(alice):
    session = ChatSession.objects.create(user_id=alice, instance_id=uuid.uuid4())
    vector = [0.0] * 512
    vector[0] = 1.0
    return CompanionMemory.objects.create(
        session=session, user_id=alice, content="likes tea", embedding=vector
    )


@pytest.mark.django_db
def test_owner_can_soft_delete_and_operator_can_restore(memory, alice):
    assert memory_soft_delete(memory_id=memory.id, user_id=alice) is True
    memory.refresh_from_db()
    first = memory.deleted_at
    assert first is not None
    assert memory_soft_delete(memory_id=memory.id, user_id=alice) is True
    memory.refresh_from_db()
    assert memory.deleted_at == first
    assert memory_restore(memory_id=memory.id) is True
    memory.refresh_from_db()
    assert memory.deleted_at is None
    assert memory_restore(memory_id=memory.id) is False


@pytest.mark.django_db
def test_another_user_cannot_delete(memory, bob):
    assert memory_soft_delete(memory_id=memory.id, user_id=bob) is False
    memory.refresh_from_db()
    assert memory.deleted_at is None
    assert CompanionMemory.objects.count() == 1
