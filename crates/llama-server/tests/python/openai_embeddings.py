"""The official openai client's embeddings.create against our server (nomic-embed model).

usage: openai_embeddings.py BASE_URL API_KEY MODEL REFERENCE_JSON
Compares every vector with llama.cpp's reference (cosine >= 0.9999), both as the client's
default (base64, decoded by the client) and as floats.
"""
import json
import math
import sys

import openai


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def main():
    base, key, model, ref_path = sys.argv[1:5]
    ref = json.load(open(ref_path))["embed"]
    texts = [r["text"] for r in ref]
    client = openai.OpenAI(base_url=base + "/v1", api_key=key)
    for fmt in (openai.NOT_GIVEN, "float"):
        resp = client.embeddings.create(model=model, input=texts, encoding_format=fmt)
        assert len(resp.data) == len(texts), resp
        for item, r in zip(resp.data, ref):
            c = cosine(item.embedding, r["embedding"])
            assert c >= 0.9999, (fmt, r["text"], c)
        assert resp.usage.prompt_tokens == resp.usage.total_tokens > len(texts)
        print(f"encoding {fmt}: {len(texts)} vectors, usage {resp.usage.prompt_tokens}")
    one = client.embeddings.create(model=model, input=texts[0])
    assert cosine(one.data[0].embedding, ref[0]["embedding"]) >= 0.9999
    try:
        client.completions.create(model=model, prompt="hi", max_tokens=4)
        raise SystemExit("a completion on an embedding model must fail")
    except openai.BadRequestError as e:
        print("completion refused:", e.status_code)
    print("all openai embedding checks passed")


if __name__ == "__main__":
    main()
