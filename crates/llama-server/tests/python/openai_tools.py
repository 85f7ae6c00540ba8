"""Tool calling through the official openai client: a call (non-streamed and streamed, the
stream's deltas assembled by the client library's own accumulation), the tool result sent back
and answered, tool_choice none. Usage: openai_tools.py BASE_URL"""
import json
import sys

import openai

base_url = sys.argv[1]
client = openai.OpenAI(base_url=base_url + "/v1", api_key="none", max_retries=0, timeout=300)
tools = [{"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}]
question = [{"role": "user", "content": "What is the weather like in Paris right now?"}]
common = dict(model="qwen", tools=tools, max_tokens=96, temperature=0)

r = client.chat.completions.create(messages=question, tool_choice="auto", **common)
choice = r.choices[0]
calls = choice.message.tool_calls or []
assert calls, f"no tool call: {choice.message}"
assert choice.finish_reason == "tool_calls", choice.finish_reason
call = calls[0]
assert call.type == "function" and call.id, call
assert call.function.name == "get_weather", call
args = json.loads(call.function.arguments)
assert "city" in args, args
print(f"call: {call.function.name}({call.function.arguments}) content={choice.message.content!r}")

# Streamed: assemble the deltas as agent frameworks do.
stream = client.chat.completions.create(messages=question, tool_choice="auto", stream=True, **common)
acc, finish = {}, None
for chunk in stream:
    if not chunk.choices:
        continue
    c = chunk.choices[0]
    finish = c.finish_reason or finish
    for tc in c.delta.tool_calls or []:
        slot = acc.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
        if tc.id:
            slot["id"] = tc.id
        if tc.function and tc.function.name:
            slot["name"] += tc.function.name
        if tc.function and tc.function.arguments:
            slot["arguments"] += tc.function.arguments
assert finish == "tool_calls", finish
streamed = [(v["name"], v["arguments"]) for _, v in sorted(acc.items())]
whole = [(c.function.name, c.function.arguments) for c in calls]
assert streamed == whole, (streamed, whole)
assert all(v["id"] for v in acc.values()), acc
print(f"streamed calls equal: {len(streamed)}")

# The result sent back.
history = question + [
    {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
    {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature_c": 18, "sky": "sunny"})},
]
r = client.chat.completions.create(messages=history, tool_choice="auto", **common)
answer = r.choices[0]
assert answer.finish_reason in ("stop", "tool_calls", "length"), answer.finish_reason
assert (answer.message.content or "").strip() or answer.message.tool_calls, answer.message
print(f"after the result: finish={answer.finish_reason} content={answer.message.content!r}")

r = client.chat.completions.create(messages=question, tool_choice="none", **common)
assert not r.choices[0].message.tool_calls, r.choices[0].message
assert r.choices[0].message.content, r.choices[0].message
print("tool_choice none: text only")

try:
    client.chat.completions.create(messages=question, tool_choice="required", tools=[], model="qwen")
    raise SystemExit("tool_choice required without tools was accepted")
except openai.BadRequestError as e:
    assert "tool_choice" in str(e), e
print("all tool checks passed")
