"""Structured output through the official openai client: 20 varied prompts x 5 JSON schemas
(nested objects, arrays, enums, numbers with bounds, required/optional fields); every answer
must parse and validate against its schema (`jsonschema`). The fifth schema is a Pydantic model
sent with `client.chat.completions.parse`. Half of the prompts are greedy, half sampled with a
seed. Usage: openai_structured.py BASE_URL"""
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import List, Literal, Optional

import jsonschema
import openai
from pydantic import BaseModel, Field

base_url = sys.argv[1]
client = openai.OpenAI(base_url=base_url + "/v1", api_key="none", max_retries=0, timeout=600)
MAX_TOKENS = 160

TOPICS = [
    "a baker in Lyon", "a lighthouse keeper", "a robot that paints", "a jazz pianist",
    "a mountain village", "a spaceship engineer", "a rainy Monday", "a chess tournament",
    "an ancient library", "a street food market", "a marathon runner", "a desert oasis",
    "a winter festival", "a coral reef", "a vintage car", "a night train to Vienna",
    "a beekeeper", "a startup founder", "a haunted castle", "a summer thunderstorm",
]

SCHEMAS = {
    "nested": {
        "type": "object", "additionalProperties": False,
        "required": ["name", "address"],
        "properties": {
            "name": {"type": "string", "maxLength": 30},
            "address": {
                "type": "object", "additionalProperties": False,
                "required": ["city", "country", "geo"],
                "properties": {
                    "city": {"type": "string", "maxLength": 30},
                    "country": {"type": "string", "maxLength": 30},
                    "geo": {"type": "object", "additionalProperties": False,
                            "required": ["lat", "lon"],
                            "properties": {"lat": {"type": "integer", "minimum": -90, "maximum": 90},
                                           "lon": {"type": "integer", "minimum": -180, "maximum": 180}}},
                },
            },
        },
    },
    "array": {
        "type": "object", "additionalProperties": False, "required": ["tags", "steps"],
        "properties": {
            "tags": {"type": "array", "minItems": 1, "maxItems": 4,
                     "items": {"type": "string", "maxLength": 15}},
            "steps": {"type": "array", "minItems": 1, "maxItems": 3,
                      "items": {"type": "object", "additionalProperties": False,
                                "required": ["order", "text"],
                                "properties": {"order": {"type": "integer", "minimum": 1, "maximum": 3},
                                               "text": {"type": "string", "maxLength": 30}}}},
        },
    },
    "enum": {
        "type": "object", "additionalProperties": False,
        "required": ["mood", "season", "rating"],
        "properties": {
            "mood": {"enum": ["happy", "sad", "calm", "tense"]},
            "season": {"type": "string", "enum": ["spring", "summer", "autumn", "winter"]},
            "rating": {"enum": [1, 2, 3, 4, 5]},
        },
    },
    "bounds": {
        "type": "object", "additionalProperties": False,
        "required": ["temperature_c", "humidity_pct", "price"],
        "properties": {
            "temperature_c": {"type": "number", "minimum": -40, "maximum": 50},
            "humidity_pct": {"type": "integer", "minimum": 0, "maximum": 100},
            "price": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000},
        },
    },
}


class Story(BaseModel):
    """Required and optional fields (Pydantic: the client sends a strict schema, optional
    fields as nullable)."""
    title: str = Field(max_length=40)
    genre: Literal["drama", "comedy", "mystery"]
    year: Optional[int] = Field(default=None, ge=1800, le=2030)
    characters: List[str] = Field(max_length=3)
    sequel: Optional[str] = Field(default=None, max_length=30)


def message(kind, topic):
    return [{"role": "user", "content": f"Write a short JSON description ({kind}) about {topic}."}]


def sampling(i):
    return dict(temperature=0) if i % 2 == 0 else dict(temperature=0.8, seed=100 + i)


def run_schema(job):
    name, schema, i, topic = job
    fmt = {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}
    r = client.chat.completions.create(model="qwen", messages=message(name, topic),
                                       response_format=fmt, max_tokens=MAX_TOKENS, **sampling(i))
    c = r.choices[0]
    assert c.finish_reason == "stop", (name, topic, c.finish_reason, c.message.content)
    value = json.loads(c.message.content)
    jsonschema.validate(value, schema)
    return name


def run_pydantic(job):
    i, topic = job
    r = client.chat.completions.parse(model="qwen", messages=message("a story", topic),
                                      response_format=Story, max_tokens=MAX_TOKENS, **sampling(i))
    c = r.choices[0]
    assert c.message.parsed is not None, (topic, c.message.content, c.message.refusal)
    assert isinstance(c.message.parsed, Story)
    jsonschema.validate(json.loads(c.message.content), Story.model_json_schema())
    return "pydantic"


start = time.time()
jobs = [(n, s, i, t) for n, s in SCHEMAS.items() for i, t in enumerate(TOPICS)]
with ThreadPoolExecutor(max_workers=4) as pool:
    done = list(pool.map(run_schema, jobs))
    done += list(pool.map(run_pydantic, list(enumerate(TOPICS))))
counts = {k: done.count(k) for k in sorted(set(done))}
assert len(done) == 100, counts
print(f"100/100 answers parsed and validated {counts} in {time.time() - start:.1f} s")
print("all structured checks passed")
