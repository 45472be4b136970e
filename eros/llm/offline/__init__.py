"""The ``offline`` chat model: deterministic heuristics in place of a language model.

It lets the whole engine run with no API key and no network (DESIGN §6). It never pretends
to understand: replies are composed from templates, the persona card and at most one
recalled memory; extraction and evaluation use transparent English first-person patterns
("I live in X", "I work as a Y", "I love Z") and a small sentiment lexicon. Other languages
get a reply but no extracted facts. The same request always gives the same answer.

What it reads is what a real model is sent (:mod:`eros.llm.offline.inputs`):

- ``chat_companion`` reads the request's typed :class:`~eros.llm.base.TurnContext`. The
  system prompt is prose written for a model; reading it back would tie this package to
  the prompt's wording, and the recall similarities that decide which memory is worth a
  callback are not in it. The context is the same facts, typed, and any model may use it.
- ``affinity_evaluation``, ``insight_extraction`` and ``memory_extraction`` read the prompt
  itself. Their inputs are data (an exchange, a list of facts and a profile, a transcript)
  that the prompts already hold, with free text quoted as JSON strings; parsing them back is
  simpler than a second copy of the same data beside the prompt, and honest: the offline
  answer comes from exactly what a real model would have seen.

Modules: :mod:`~eros.llm.offline.model` (the provider), :mod:`~eros.llm.offline.inputs`
(reading requests), :mod:`~eros.llm.offline.composer` and :mod:`~eros.llm.offline.templates`
(replies), :mod:`~eros.llm.offline.extraction` (facts, profile fields, memories),
:mod:`~eros.llm.offline.evaluation` (the sentiment lexicon), :mod:`~eros.llm.offline.text`
(shared English helpers).

Answers per ``request.task`` (each ``ChatResult(text=..., model="offline", offline=True)``):

``chat_companion``
    1–3 English sentences, passed through ``clean_response``
    (:func:`~eros.llm.offline.composer.compose_reply`).
``insight_extraction``, prompt quoting an exchange
    ``{"facts": [str, ...], "moment": str}``: lowercase third-person facts such as
    ``"lives in Lisbon"`` (:func:`~eros.llm.offline.extraction.insight_facts`) and a moment
    worth a callback or ``""`` (:func:`~eros.llm.offline.extraction.moment`); the reply is
    not mined, and questions state nothing.
``insight_extraction``, prompt listing facts and the current profile
    The profile fields those facts fill, ``{}`` when none
    (:func:`~eros.llm.offline.extraction.profile_fields`), as a flat object. It judges no
    remembered memory: the slot rules of ``memory.slots`` decide supersession instead.
``memory_extraction``
    ``{"memories": [{"content", "category", "source_message_ids"}]}``, at most 10, from
    the user's lines only (:func:`~eros.llm.offline.extraction.memories`).
``affinity_evaluation``
    ``{"warmth", "trust", "intrigue", "intimacy", "tension": float, "reason": str}``, each
    within ±0.15, from the user's message only (:func:`~eros.llm.offline.evaluation.evaluate`).

Any other task, or a prompt without the inputs its task needs, raises
``ProviderError(retryable=False)``.
"""

from eros.llm.offline.model import MODEL_NAME, OfflineChatModel

__all__ = ["MODEL_NAME", "OfflineChatModel"]
