"""The Responses API through the official openai client: a response and its output_text, the
stream's typed events (ids as llama.cpp's suite checks them), a function call and its output
sent back. Usage: openai_responses.py BASE_URL"""
import json
import sys

import openai

base_url = sys.argv[1]
client = openai.OpenAI(base_url=base_url + "/v1", api_key="none", max_retries=0, timeout=300)
conversation = [{"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": "What is the capital of France?"}]

r = client.responses.create(model="gpt-4.1", input=conversation, max_output_tokens=12,
                            temperature=0)
assert r.id.startswith("resp_"), r.id
assert r.output[0].id.startswith("msg_"), r.output
assert r.output_text, r
print(f"text: {r.output_text!r}")

stream = client.responses.create(model="gpt-4.1", input=conversation, max_output_tokens=12,
                                 temperature=0, stream=True)
gathered, resp_id, msg_id, completed = "", None, None, None
for ev in stream:
    if ev.type == "response.created":
        resp_id = ev.response.id
    elif ev.type == "response.output_item.added":
        msg_id = ev.item.id
    elif ev.type == "response.output_text.delta":
        assert ev.item_id == msg_id, (ev, msg_id)
        gathered += ev.delta
    elif ev.type == "response.completed":
        completed = ev.response
assert resp_id and resp_id.startswith("resp_"), resp_id
assert completed is not None and completed.id == resp_id
assert gathered == completed.output_text == r.output_text, (gathered, completed.output_text)
print(f"stream: {gathered!r}")

tools = [{"type": "function", "name": "get_weather", "description": "Get the current weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                         "required": ["city"]}}]
question = {"role": "user", "content": "What is the weather like in Paris right now?"}
r = client.responses.create(model="qwen", input=[question], tools=tools, tool_choice="auto",
                            max_output_tokens=96, temperature=0)
calls = [o for o in r.output if o.type == "function_call"]
assert calls, r.output
turn = [question]
for call in calls:
    assert call.name == "get_weather" and "city" in json.loads(call.arguments), call
    turn.append(call.model_dump(exclude_none=True))
    turn.append({"type": "function_call_output", "call_id": call.call_id, "output": "18 C, sunny"})
answer = client.responses.create(model="qwen", tools=tools, tool_choice="none", max_output_tokens=48,
                                 temperature=0, input=turn)
assert answer.output_text and not [o for o in answer.output if o.type == "function_call"], answer
print(f"calls: {[(c.name, c.arguments) for c in calls]} -> {answer.output_text!r}")
print("all responses checks passed")
