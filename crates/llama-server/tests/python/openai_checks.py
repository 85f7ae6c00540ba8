"""Drives llama-server with the official `openai` Python client.

Usage: python3 openai_checks.py BASE_URL API_KEY MODEL REFERENCE_JSON_OR_EMPTY [--reference-only]
Checks every chat of the reference (llama.cpp's text, finish reason and usage, streamed and not),
then, unless --reference-only, the SmolLM2-specific checks. Exits non-zero (with a traceback) on
the first failed check.
"""
import json
import sys

import openai

base_url, api_key, model, reference_path = sys.argv[1:5]
reference_only = sys.argv[5:] == ["--reference-only"]
client = openai.OpenAI(base_url=base_url + "/v1", api_key=api_key, max_retries=0, timeout=120)
question = [{"role": "user", "content": "What is 2+2?"}]
expected = "The answer to this classic math problem is 4."
reference = {"chat": []}
if reference_path:
    with open(reference_path) as f:
        reference = json.load(f)
    expected = reference["chat"][0]["content"]


def usage_of(u):
    return (u.prompt_tokens, u.completion_tokens, u.total_tokens)


def reference_chats():
    """Every reference chat, non-streamed and streamed: llama.cpp's text, finish reason, usage."""
    assert reference_path == "" or reference["chat"], "the reference has no chat"
    for want in reference["chat"]:
        u = want["usage"]
        usage = (u["prompt_tokens"], u["completion_tokens"], u["total_tokens"])
        args = dict(model=model, messages=want["messages"], temperature=0, max_tokens=want["max_tokens"])
        r = client.chat.completions.create(**args)
        assert r.choices[0].message.content == want["content"], (r, want)
        assert r.choices[0].finish_reason == want["finish_reason"], r
        assert usage_of(r.usage) == usage, (r.usage, usage)
        text, finish, got = "", None, None
        for chunk in client.chat.completions.create(**args, stream=True, stream_options={"include_usage": True}):
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
                finish = chunk.choices[0].finish_reason or finish
            if chunk.usage:
                got = chunk.usage
        assert (text, finish) == (want["content"], want["finish_reason"]), (text, finish)
        assert got is not None and usage_of(got) == usage, (got, usage)


def chat_non_stream():
    r = client.chat.completions.create(model=model, messages=question, temperature=0, max_tokens=32)
    assert r.choices[0].message.content == expected, r
    assert r.choices[0].finish_reason == "stop", r
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (37, 12, 49), r.usage


def chat_stream():
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]}],
        temperature=0, max_tokens=32, stream=True, stream_options={"include_usage": True})
    text, finish, usage = "", None, None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    assert text == expected, text
    assert finish == "stop"
    assert usage is not None and usage.completion_tokens == 12, usage


def completions():
    r = client.completions.create(model=model, prompt="The capital of France is", max_tokens=6, temperature=0)
    assert r.choices[0].text.startswith(" Paris"), r
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 6, r
    chunks = list(client.completions.create(model=model, prompt="The capital of France is", max_tokens=3,
                                            temperature=0, stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices).startswith(" Paris")


def models():
    listed = client.models.list()
    assert [m.id for m in listed.data] == [model], listed


def logprobs():
    r = client.chat.completions.create(model=model, messages=question, temperature=0, max_tokens=3,
                                       logprobs=True, top_logprobs=2)
    content = r.choices[0].logprobs.content
    assert len(content) == 3 and len(content[0].top_logprobs) == 2, content
    assert content[0].token == content[0].top_logprobs[0].token == "The", content[0]


def errors():
    # As llama.cpp's single-model server: any model name is served and echoed back.
    other = client.chat.completions.create(model="gpt-4o-mini", messages=question, max_tokens=2)
    assert other.model == "gpt-4o-mini", other.model
    for bad in ({"messages": []}, {"messages": question, "max_tokens": 0}, {"messages": question, "temperature": "hot"}):
        try:
            client.chat.completions.create(model=model, **bad)
            raise AssertionError(f"accepted {bad}")
        except openai.BadRequestError as e:
            assert e.status_code == 400, e
    wrong = openai.OpenAI(base_url=base_url + "/v1", api_key="wrong-key", max_retries=0)
    try:
        wrong.models.list()
        raise AssertionError("wrong key accepted")
    except openai.AuthenticationError as e:
        assert e.status_code == 401, e


checks = (reference_chats,) if reference_only else (
    reference_chats, chat_non_stream, chat_stream, completions, models, logprobs, errors)
for check in checks:
    check()
    print(f"ok {check.__name__}")
print("all openai checks passed")
