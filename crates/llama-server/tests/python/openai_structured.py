"""Structured output through the official openai client: 20 varied prompts x 5 JSON schemas
(nested objects, arrays, enums, numbers with bounds, required/optional fields); every answer
must parse and validate against its schema (`jsonschema`). The fifth schema is a Pydantic model
sent with `client.chat.completions.parse`. Four prompts in five are greedy, the fifth sampled
with a seed.

Sized for CI time without weakening the check: every schema asks for compact JSON
(llguidance's `x-guidance` option `whitespace_flexible: false`: no whitespace between tokens,
so the 0.5B model spends no tokens on indentation), strings and arrays are bounded, and each
schema gets a `max_tokens` sized to its longest answer (an answer cut by the limit fails the
`finish_reason == "stop"` check, so a too-small limit cannot pass silently). The requests run
four at a time against the server's four slots. Usage: openai_structured.py BASE_URL"""
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, List, Literal, Optional

import jsonschema
import openai
from pydantic import BaseModel, ConfigDict, Field

base_url = sys.argv[1]
client = openai.OpenAI(base_url=base_url + "/v1", api_key="none", max_retries=0, timeout=600)
# llguidance's JSON options, read from the schema itself: no whitespace, "," and ":" only.
COMPACT = {"whitespace_flexible": False}
MAX_NESTED, MAX_ARRAY, MAX_ENUM, MAX_BOUNDS, MAX_STORY = 88, 96, 56, 64, 112

TOPICS = [
    "a baker in Lyon", "a lighthouse keeper", "a robot that paints", "a jazz pianist",
    "a mountain village", "a spaceship engineer", "a rainy Monday", "a chess tournament",
    "an ancient library", "a street food market", "a marathon runner", "a desert oasis",
    "a winter festival", "a coral reef", "a vintage car", "a night train to Vienna",
    "a beekeeper", "a startup founder", "a haunted castle", "a summer thunderstorm",
]

# name -> (schema, max_tokens). Each limit is about twice the longest answer measured with these
# bounds (49, 28, 33, 44 and 57 tokens for array, enum, bounds, nested and the Pydantic story).
SCHEMAS = {
    "nested": ({
        "type": "object", "additionalProperties": False, "x-guidance": COMPACT,
        "required": ["name", "address"],
        "properties": {
            "name": {"type": "string", "maxLength": 20},
            "address": {
                "type": "object", "additionalProperties": False,
                "required": ["city", "country", "geo"],
                "properties": {
                    "city": {"type": "string", "maxLength": 20},
                    "country": {"type": "string", "maxLength": 20},
                    "geo": {"type": "object", "additionalProperties": False,
                            "required": ["lat", "lon"],
                            "properties": {"lat": {"type": "integer", "minimum": -90, "maximum": 90},
                                           "lon": {"type": "integer", "minimum": -180, "maximum": 180}}},
                },
            },
        },
    }, MAX_NESTED),
    "array": ({
        "type": "object", "additionalProperties": False, "x-guidance": COMPACT,
        "required": ["tags", "steps"],
        "properties": {
            "tags": {"type": "array", "minItems": 1, "maxItems": 3,
                     "items": {"type": "string", "maxLength": 12}},
            "steps": {"type": "array", "minItems": 1, "maxItems": 2,
                      "items": {"type": "object", "additionalProperties": False,
                                "required": ["order", "text"],
                                "properties": {"order": {"type": "integer", "minimum": 1, "maximum": 2},
                                               "text": {"type": "string", "maxLength": 20}}}},
        },
    }, MAX_ARRAY),
    "enum": ({
        "type": "object", "additionalProperties": False, "x-guidance": COMPACT,
        "required": ["mood", "season", "rating"],
        "properties": {
            "mood": {"enum": ["happy", "sad", "calm", "tense"]},
            "season": {"type": "string", "enum": ["spring", "summer", "autumn", "winter"]},
            "rating": {"enum": [1, 2, 3, 4, 5]},
        },
    }, MAX_ENUM),
    "bounds": ({
        "type": "object", "additionalProperties": False, "x-guidance": COMPACT,
        "required": ["temperature_c", "humidity_pct", "price"],
        "properties": {
            "temperature_c": {"type": "number", "minimum": -40, "maximum": 50},
            "humidity_pct": {"type": "integer", "minimum": 0, "maximum": 100},
            "price": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000},
        },
    }, MAX_BOUNDS),
}


class Story(BaseModel):
    """Required and optional fields (Pydantic: the client sends a strict schema, optional
    fields as nullable); `x-guidance` travels in the schema the client sends."""
    model_config = ConfigDict(json_schema_extra={"x-guidance": COMPACT})
    title: str = Field(max_length=30)
    genre: Literal["drama", "comedy", "mystery"]
    year: Optional[int] = Field(default=None, ge=1800, le=2030)
    characters: List[Annotated[str, Field(max_length=15)]] = Field(max_length=3)
    sequel: Optional[str] = Field(default=None, max_length=20)


def message(kind, topic):
    return [{"role": "user", "content": f"Write a short JSON description ({kind}) about {topic}."}]


def sampling(i):
    return dict(temperature=0) if i % 5 != 4 else dict(temperature=0.8, seed=100 + i)


def run_schema(job):
    name, (schema, max_tokens), i, topic = job
    fmt = {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}
    r = client.chat.completions.create(model="qwen", messages=message(name, topic),
                                       response_format=fmt, max_tokens=max_tokens, **sampling(i))
    c = r.choices[0]
    assert c.finish_reason == "stop", (name, topic, c.finish_reason, c.message.content)
    value = json.loads(c.message.content)
    jsonschema.validate(value, schema)
    return name, r.usage.completion_tokens


def run_pydantic(job):
    i, topic = job
    r = client.chat.completions.parse(model="qwen", messages=message("a story", topic),
                                      response_format=Story, max_tokens=MAX_STORY, **sampling(i))
    c = r.choices[0]
    assert c.finish_reason == "stop", (topic, c.finish_reason, c.message.content)
    assert c.message.parsed is not None, (topic, c.message.content, c.message.refusal)
    assert isinstance(c.message.parsed, Story)
    jsonschema.validate(json.loads(c.message.content), Story.model_json_schema())
    return "pydantic", r.usage.completion_tokens


start = time.time()
jobs = [(n, s, i, t) for n, s in SCHEMAS.items() for i, t in enumerate(TOPICS)]
with ThreadPoolExecutor(max_workers=4) as pool:
    done = list(pool.map(run_schema, jobs))
    done += list(pool.map(run_pydantic, list(enumerate(TOPICS))))
names = [n for n, _ in done]
counts = {k: names.count(k) for k in sorted(set(names))}
assert len(done) == 100, counts
longest = {k: max(t for n, t in done if n == k) for k in counts}
total = sum(t for _, t in done)
print(f"100/100 answers parsed and validated {counts} in {time.time() - start:.1f} s, "
      f"{total} completion tokens, longest per schema {longest}")
print("all structured checks passed")
