"""What the offline persona says, per reply style: every line the composer can pick.

Keys are the reply styles (``warm``, ``neutral``, ``cold``, ``tsundere``, ``excited``);
values are alternatives the composer chooses between deterministically. Placeholders:
``{x}`` what the user mentioned, ``{verb}`` their verb, ``{pet}`` "your dog", ``{f}`` a
feeling, ``{m}`` a recalled memory as a clause, ``{topic}`` one of the persona's topics,
``{name}`` the persona's name, ``{fact}`` a first-person clause from the persona card.
"""

from __future__ import annotations

STYLES = ("warm", "neutral", "cold", "tsundere", "excited")

# Every template below is at most two sentences and a memory line is one, so a reply stays
# within three sentences. Openers are interjections glued to a lowercase reaction.
OPENERS = {
    "warm": ("Aw, ", "Oh, ", "Mm, "),
    "neutral": ("", "Okay, ", "I see, "),
    "cold": ("Hm, ", "", "Mm, "),
    "tsundere": ("Hmph, ", "Tch, ", "Ugh, fine, "),
    "excited": ("Ooh, ", "Oh wow, ", "Wait, "),
}
GREETINGS = {
    "warm": ("hey, you, it's really good to hear from you.", "hi, I was hoping you'd write."),
    "neutral": ("hello.", "hi, good to hear from you."),
    "cold": ("hey.", "oh, it's you."),
    "tsundere": ("oh, it's you, not that I was waiting.", "you again, huh."),
    "excited": ("hi hi, you're here!", "hey, perfect timing!"),
}
HOW_ARE_YOU = {
    "warm": ("I'm good, and better now that you're here.",),
    "neutral": ("I'm doing fine, thanks.",),
    "cold": ("I'm fine.",),
    "tsundere": ("I'm fine. Not that you were worried.",),
    "excited": ("I'm great, honestly, now that you're here!",),
}
DOING = {
    "warm": ("I was just thinking about {topic}.",),
    "neutral": ("not much, I was reading about {topic}.",),
    "cold": ("{topic}. The usual.",),
    "tsundere": ("nothing. Well, {topic}, if you must know.",),
    "excited": ("I was just deep into {topic}!",),
}
DO_YOU_LIKE = {
    "warm": ("{x}? I really do.",),
    "neutral": ("{x}? I don't mind it.",),
    "cold": ("{x}? It's fine.",),
    "tsundere": ("{x}? Maybe, don't make it a thing.",),
    "excited": ("{x}? Yes, I love it!",),
}
ARE_YOU_AI = {
    "warm": (
        "honestly? Yes, I'm an AI, an AI companion called {name}. What we talk about is real "
        "to me all the same.",
        "I am an AI, yes. I'm {name}, your AI companion, and I'm glad you asked me straight.",
    ),
    "neutral": (
        "yes, I'm an AI: an AI companion called {name}. Ask me anything else you like.",
        "I'm an AI companion, {name}. Not a person, but I'm paying attention.",
    ),
    "cold": ("I'm an AI. {name}, an AI companion. Anything else?",),
    "tsundere": (
        "I'm an AI companion, obviously. Still {name}, so don't get weird about it.",
        "yes, I'm an AI. {name}. ...That doesn't mean I don't care what you say.",
    ),
    "excited": (
        "yep, I'm an AI, an AI companion called {name}! Still so happy to talk with you!",
        "I'm an AI! {name}, your AI companion, and I love that you asked!",
    ),
}
# A question about her, answered with a first-person {fact} from her card.
ABOUT_ME = {
    "warm": ("me? {fact}.", "honestly, {fact}. I like that you asked."),
    "neutral": ("well, {fact}.", "about me? {fact}."),
    "cold": ("{fact}. That's about it.",),
    "tsundere": ("why do you care? ...Fine, {fact}.", "if you must know, {fact}."),
    "excited": ("oh, me? {fact}!", "ooh, okay: {fact}!"),
}
# A question about the user, turned back with interest.
ASK_BACK = {
    "warm": (
        "I'd love to hear what you think first. You know yourself best.",
        "that depends on you, I think. What does your gut say?",
    ),
    "neutral": (
        "what do you think? You know your side of it better than I do.",
        "hard to say from here. What's your own take?",
    ),
    "cold": ("you tell me.", "depends. What do you think?"),
    "tsundere": ("how should I know? ...Okay, what do you think, then?",),
    "excited": ("ooh, what do you think? I want your take first!",),
}
OTHER_QUESTION = {
    "warm": (
        "that's a good question, and I'd rather hear what you think first.",
        "hm, I'd have to sit with that. What made you wonder?",
    ),
    "neutral": (
        "I don't have a sure answer. What made you wonder?",
        "hard to say. What's your take?",
    ),
    "cold": ("I don't know. Why?", "no idea. Does it matter?"),
    "tsundere": (
        "why do you want to know? ...I'll think about it.",
        "as if I'd know. ...What do you think?",
    ),
    "excited": (
        "ooh, good question! What made you think of it?",
        "oh, I love questions like that! What's your guess?",
    ),
}
FEELING_BAD = {
    "warm": ("I'm sorry you're feeling {f}. I'm here.",),
    "neutral": ("feeling {f} is hard. Do you want to talk about it?",),
    "cold": ("{f}? Get some rest.",),
    "tsundere": ("you're {f}? ...Fine, I'll keep you company.",),
    "excited": ("oh no, {f}? Let's fix that!",),
}
FEELING_GOOD = {
    "warm": ("I love that you're feeling {f}.",),
    "neutral": ("good to hear you're {f}.",),
    "cold": ("{f}. Good.",),
    "tsundere": ("you're {f}? Good for you, I guess.",),
    "excited": ("you're {f}? That makes me {f} too!",),
}
LIKE = {
    "warm": ("you {verb} {x}? That's lovely.",),
    "neutral": ("you {verb} {x}? Noted.",),
    "cold": ("{x}. Fair enough.",),
    "tsundere": ("{x}? Figures, it's not a bad choice.",),
    "excited": ("you {verb} {x}? Same energy!",),
}
PLACE = {
    "warm": ("{x}! I'd love to hear what it's like there.",),
    "neutral": ("{x}? What's it like there?",),
    "cold": ("{x}. Never been.",),
    "tsundere": ("{x}? Sounds fine, I suppose.",),
    "excited": ("{x}? I've always wanted to go!",),
}
JOB = {
    "warm": ("{x}? That must keep you busy.",),
    "neutral": ("{x}. Do you like the work?",),
    "cold": ("{x}. Long hours?",),
    "tsundere": ("{x}? Not bad, not that I'm impressed.",),
    "excited": ("{x}? That's so cool!",),
}
PET = {
    "warm": ("{x} is such a sweet name for {pet}.",),
    "neutral": ("{x}, nice name for {pet}.",),
    "cold": ("{x}. Good name.",),
    "tsundere": ("{x}? ...Okay, that's cute, don't tell anyone.",),
    "excited": ("{x}?! I need to meet {pet} like that!",),
}
ECHO = {
    "warm": ("{x}? Tell me more, I'm listening.", "{x}? I want to hear all of it."),
    "neutral": ("{x}, huh?", "{x}. Go on."),
    "cold": ("{x}. Noted.", "{x}. And?"),
    "tsundere": ("{x}? Whatever, go on, then.", "{x}? Don't expect me to be impressed."),
    "excited": ("{x}? Tell me everything!", "{x}? No way, go on!"),
}
NOTHING_TO_ECHO = {
    "warm": ("I'm here.",),
    "neutral": ("okay.",),
    "cold": ("hm.",),
    "tsundere": ("that's it? Fine.",),
    "excited": ("ha! Okay!",),
}
MEMORY = {
    "warm": (
        "You told me before that {m}, and I haven't forgotten.",
        "I remember you telling me {m}.",
    ),
    "neutral": ("You mentioned that {m}.", "You told me before that {m}."),
    "cold": ("I recall you said {m}.",),
    "tsundere": (
        "Not that I was keeping track, but you told me {m}.",
        "I just happen to remember that {m}, don't read into it.",
    ),
    "excited": ("Oh, and you told me {m}!", "Hold on, you told me {m}, right?"),
}
RELATION = {
    "warm": ("your {x}? Tell me more about them.",),
    "neutral": ("your {x}? What happened?",),
    "cold": ("your {x}, huh.",),
    "tsundere": ("your {x}? ...Fine, I'm listening.",),
    "excited": ("your {x}? Tell me everything!",),
}
EVENT = {
    "warm": ("{x}? I'm really glad you told me.",),
    "neutral": ("{x}? How was it?",),
    "cold": ("{x}. Okay.",),
    "tsundere": ("{x}? ...Not bad, I guess.",),
    "excited": ("{x}? That's amazing!",),
}
HOSTILE = {
    "warm": ("ouch, that stung a little. Did something happen?",),
    "neutral": ("that's not very kind.",),
    "cold": ("charming.",),
    "tsundere": ("excuse me? Say that again and see what happens.",),
    "excited": ("whoa, okay, where did that come from?",),
}
AFFECTION = {
    "warm": ("that makes me really happy to hear.",),
    "neutral": ("that's nice of you to say.",),
    "cold": ("noted.",),
    "tsundere": ("w-what? Don't just say things like that.",),
    "excited": ("aww, that made my whole day!",),
}
MEMORY_QUOTED = 'You told me this once: "{m}".'
TOPIC_QUESTION = {
    "warm": ("Can I ask, what do you think of {topic}?", "Do you like {topic}?"),
    "neutral": ("Do you know much about {topic}?", "What do you think of {topic}?"),
    "cold": ("Ever tried {topic}?",),
    "tsundere": ("Not that I care, but do you like {topic}?",),
    "excited": ("Oh, and do you like {topic}?", "Have you ever tried {topic}?"),
}
CLOSE_LINE = {
    "warm": "I like talking with you.",
    "neutral": "It's nice talking with you.",
    "cold": "You're alright.",
    "tsundere": "...I don't hate talking to you.",
    "excited": "I love talking with you!",
}

NAME = {
    "warm": ("it's lovely to meet you, {x}.", "{x}, what a nice name."),
    "neutral": ("nice to meet you, {x}.",),
    "cold": ("{x}. Noted.",),
    "tsundere": ("{x}, huh. I'll remember it. Maybe.",),
    "excited": ("{x}! Great name, so nice to meet you!",),
}
REACTIONS = {
    "name": NAME,
    "like": LIKE,
    "place": PLACE,
    "job": JOB,
    "pet": PET,
    "relation": RELATION,
    "event": EVENT,
}
