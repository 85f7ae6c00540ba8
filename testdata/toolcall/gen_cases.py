#!/usr/bin/env python3
"""Writes cases.json: model outputs and the messages llama.cpp parses them into.

Most cases are llama.cpp's own (tests/test-chat.cpp of the llama-cpp-python 0.3.36 sdist,
vendor/llama.cpp; `src` gives the line). The rest (`src: "ours"`) add what each format also
needs tested here: parallel calls, content before a call, malformed and truncated output.
Run: python3 gen_cases.py > cases.json
"""
import json

CALL = {"name": "special_function", "arguments": '{"arg1": 1}'}
CALL_OPT = {"name": "special_function_with_opt", "arguments": '{"arg1": 1, "arg2": 2}'}
HELLO = "Hello, world!\nWhat's up?"
THOUGHTS = "I'm\nthinking"

cases = []


def case(name, src, inp, content="", reasoning="", calls=(), template=None, fmt=None,
         tools=True, reasoning_format="auto", truncated=False):
    c = {"name": name, "src": src, "input": inp, "tools": tools,
         "reasoning_format": reasoning_format,
         "expect": {"content": content, "reasoning_content": reasoning, "tool_calls": list(calls)}}
    if template:
        c["template"] = template
    if fmt:
        c["format"] = fmt
    if truncated:
        c["truncated"] = True
    cases.append(c)


# ---- Hermes 2 Pro / Hermes 3 / Qwen 2.5 / MiMo / Granite 4 ----
for t in ["Qwen-Qwen2.5-7B-Instruct.jinja", "MiMo-VL.jinja", "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja"]:
    case(f"hermes content {t}", "test-chat.cpp:6107", HELLO, HELLO, template=t)
    case(f"hermes call {t}", "test-chat.cpp:6108",
         '<tool_call>\n{"name": "special_function", "arguments": {"arg1": 1}}\n</tool_call>', calls=[CALL], template=t)
case("hermes call no newline", "test-chat.cpp:3332",
     '<tool_call>\n{"name": "special_function", "arguments": {"arg1": 1}}</tool_call>', calls=[CALL],
     template="NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja")
case("hermes content then call", "test-chat.cpp:3340",
     HELLO + '<tool_call>\n{"name": "special_function", "arguments": {"arg1": 1}}</tool_call>', HELLO, calls=[CALL],
     template="NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja")
case("hermes parallel", "ours",
     '<tool_call>\n{"name": "special_function", "arguments": {"arg1": 1}}\n</tool_call>\n'
     '<tool_call>\n{"name": "special_function_with_opt", "arguments": {"arg1": 1, "arg2": 2}}\n</tool_call>',
     calls=[CALL, CALL_OPT], template="Qwen-Qwen2.5-7B-Instruct.jinja")
case("hermes tool-looking text without tools", "ours",
     '<tool_call>\n{"name": "special_function", "arguments": {"arg1": 1}}\n</tool_call>',
     '<tool_call>\n{"name": "special_function", "arguments": {"arg1": 1}}\n</tool_call>',
     template="Qwen-Qwen2.5-7B-Instruct.jinja", tools=False)
case("hermes not json", "ours", "<tool_call>not json</tool_call> ok", "<tool_call>not json</tool_call> ok",
     template="Qwen-Qwen2.5-7B-Instruct.jinja")
case("hermes truncated", "ours", '<tool_call>\n{"name": "special_function", "arguments": {"arg1"',
     '<tool_call>\n{"name": "special_function", "arguments": {"arg1"', template="Qwen-Qwen2.5-7B-Instruct.jinja",
     truncated=True)
case("hermes less-than in content", "ours", "a < b and <tool", "a < b and <tool", template="Qwen-Qwen2.5-7B-Instruct.jinja")
case("hermes bare json call", "ours (llama.cpp b5000 Hermes parser accepts it)",
     '{"name": "special_function", "arguments": {"arg1": 1}}', calls=[CALL], template="Qwen-Qwen2.5-7B-Instruct.jinja")
case("hermes fenced json call", "ours (llama.cpp b5000 Hermes parser accepts it)",
     'Calling:\n```json\n{"name": "special_function", "arguments": {"arg1": 1}}\n```', "Calling:\n", calls=[CALL],
     template="Qwen-Qwen2.5-7B-Instruct.jinja")
case("hermes json naming no tool", "ours", 'A person: {"name": "Bob", "age": 3}', 'A person: {"name": "Bob", "age": 3}',
     template="Qwen-Qwen2.5-7B-Instruct.jinja")
case("hermes code fence", "ours", "```python\nprint(1)\n```", "```python\nprint(1)\n```",
     template="Qwen-Qwen2.5-7B-Instruct.jinja")
case("granite 4 call", "test-chat.cpp:3414",
     '<tool_call>\n{"name": "special_function", "arguments": {"arg1": 1}}\n</tool_call>', calls=[CALL],
     template="ibm-granite-granite-4.0.jinja")
case("granite 4 content", "test-chat.cpp:3412", HELLO, HELLO, template="ibm-granite-granite-4.0.jinja")

# ---- Qwen3-Coder XML ----
QC = "Qwen3-Coder.jinja"
XML_CALL = "<tool_call>\n<function=special_function>\n<parameter=arg1>\n1\n</parameter>\n</function>\n</tool_call>"
XML_OPT = ("<tool_call>\n<function=special_function_with_opt>\n<parameter=arg1>\n1\n</parameter>\n"
           "<parameter=arg2>\n2\n</parameter>\n</function>\n</tool_call>")
case("qwen3-coder content", "test-chat.cpp:3554", HELLO, HELLO, template=QC)
case("qwen3-coder call", "test-chat.cpp:3556", XML_CALL, calls=[CALL], template=QC)
case("qwen3-coder call without <tool_call>", "test-chat.cpp:3571", XML_CALL[len("<tool_call>\n"):], calls=[CALL], template=QC)
case("qwen3-coder content then call", "test-chat.cpp:3582", "Let me call it.\n" + XML_CALL[len("<tool_call>\n"):],
     "Let me call it.\n", calls=[CALL], template=QC)
case("qwen3-coder parallel first bare", "test-chat.cpp:3598", XML_CALL[len("<tool_call>\n"):] + "\n" + XML_OPT,
     calls=[CALL, CALL_OPT], template=QC)
case("qwen3-coder parallel", "test-chat.cpp:3624", XML_CALL + "\n" + XML_OPT, calls=[CALL, CALL_OPT], template=QC)
case("qwen3-coder multiline code", "test-chat.cpp:3650",
     "<tool_call>\n<function=python>\n<parameter=code>\ndef hello():\n    print(\"Hello, world!\")\n\nhello()\n"
     "</parameter>\n</function>\n</tool_call>",
     calls=[{"name": "python", "arguments": json.dumps({"code": "def hello():\n    print(\"Hello, world!\")\n\nhello()"})}],
     template=QC)
case("qwen3-coder unicode", "test-chat.cpp:3668",
     "<tool_call>\n<function=python>\n<parameter=code>\n格\n</parameter>\n</function>\n</tool_call>",
     calls=[{"name": "python", "arguments": '{"code": "格"}'}], template=QC)
case("qwen3-coder string typed by schema", "ours",
     "<tool_call>\n<function=python>\n<parameter=code>\n42\n</parameter>\n</function>\n</tool_call>",
     calls=[{"name": "python", "arguments": '{"code": "42"}'}], template=QC)
case("qwen3-coder truncated", "ours", "<tool_call>\n<function=special_function>\n<parameter=arg1>\n1",
     "<tool_call>\n<function=special_function>\n<parameter=arg1>\n1", template=QC, truncated=True)

# ---- Llama 3.x ----
L33 = "meta-llama-Llama-3.3-70B-Instruct.jinja"
L32 = "meta-llama-Llama-3.2-3B-Instruct.jinja"
case("llama 3.2 content", "test-chat.cpp:6329", HELLO, HELLO, template=L32)
case("llama 3.3 content", "test-chat.cpp:6343", HELLO, HELLO, template=L33)
case("llama 3.2 call", "ours (llama.cpp b5000 test-chat.cpp)",
     '{"name": "special_function", "parameters": {"arg1": 1}}', calls=[CALL], template=L32)
case("llama 3.2 typed call", "ours", '{"type": "function", "name": "special_function", "parameters": {"arg1": 1}}',
     calls=[CALL], template=L32)
case("llama 3.2 content then call", "ours", 'Sure.\n{"name": "special_function", "parameters": {"arg1": 1}}',
     "Sure.\n", calls=[CALL], template=L32)
case("llama 3.2 json that is no call", "ours", 'Here: {"a": 1}', 'Here: {"a": 1}', template=L32)
case("llama 3.2 json naming no tool", "ours", '{"name": "Bob", "parameters": {}}', '{"name": "Bob", "parameters": {}}',
     template=L32)
case("llama 3.2 parallel", "ours",
     '{"name": "special_function", "parameters": {"arg1": 1}}\n{"name": "special_function_with_opt", "parameters": {"arg1": 1, "arg2": 2}}',
     calls=[CALL, CALL_OPT], template=L32)
case("llama 3.3 python_tag code", "ours (llama.cpp b5000 test-chat.cpp)", "<|python_tag|>print('hey')",
     calls=[{"name": "python", "arguments": '{"code": "print(\'hey\')"}'}], template=L33)
case("llama 3.3 python_tag builtin", "ours (llama.cpp b5000 test-chat.cpp)",
     '<|python_tag|>brave_search.call(query="Hello")', calls=[{"name": "brave_search", "arguments": '{"query": "Hello"}'}],
     template=L33)
case("llama 3.3 truncated", "ours", '{"name": "special_function", "parameters": {"arg1":',
     '{"name": "special_function", "parameters": {"arg1":', template=L33, truncated=True)

# ---- Mistral Nemo ----
MN = "mistralai-Mistral-Nemo-Instruct-2407.jinja"
case("mistral content", "test-chat.cpp:5916", HELLO, HELLO, template=MN)
case("mistral call with id", "test-chat.cpp:5917",
     '[TOOL_CALLS][{"name": "special_function", "arguments": {"arg1": 1}, "id": "123456789"}]',
     calls=[dict(CALL, id="123456789")], template=MN)
case("mistral parallel", "ours",
     '[TOOL_CALLS][{"name": "special_function", "arguments": {"arg1": 1}, "id": "123456789"}, '
     '{"name": "special_function_with_opt", "arguments": {"arg1": 1, "arg2": 2}, "id": "987654321"}]',
     calls=[dict(CALL, id="123456789"), dict(CALL_OPT, id="987654321")], template=MN)
case("mistral content then call", "ours",
     'Calling.[TOOL_CALLS][{"name": "special_function", "arguments": {"arg1": 1}, "id": "123456789"}]', "Calling.",
     calls=[dict(CALL, id="123456789")], template=MN)
case("mistral malformed", "ours", "[TOOL_CALLS] oops", "[TOOL_CALLS] oops", template=MN)

# ---- Functionary ----
F31 = "meetkai-functionary-medium-v3.1.jinja"
F32 = "meetkai-functionary-medium-v3.2.jinja"
case("functionary v3.1 content", "test-chat.cpp:5933", HELLO, HELLO, template=F31)
case("functionary v3.1 call", "test-chat.cpp:5934", '<function=special_function>{"arg1": 1}</function>',
     calls=[CALL], template=F31)
case("functionary v3.1 content then parallel", "ours",
     'Ok <function=special_function>{"arg1": 1}</function><function=special_function_with_opt>{"arg1": 1, "arg2": 2}</function>',
     "Ok ", calls=[CALL, CALL_OPT], template=F31)
case("functionary v3.1 python_tag", "ours", "<|python_tag|>print('hey')",
     calls=[{"name": "python", "arguments": '{"code": "print(\'hey\')"}'}], template=F31)
case("functionary v3.1 malformed", "ours", "<function=special_function>oops", "<function=special_function>oops", template=F31)
case("functionary v3.2 content", "test-chat.cpp:5951", "all\n" + HELLO, HELLO, template=F32)
case("functionary v3.2 call", "test-chat.cpp:5952", 'special_function\n{"arg1": 1}', calls=[CALL], template=F32)
case("functionary v3.2 content then call", "ours", 'all\nLet me check.>>>special_function\n{"arg1": 1}',
     "Let me check.", calls=[CALL], template=F32)
case("functionary v3.2 parallel", "ours",
     'special_function\n{"arg1": 1}>>>special_function_with_opt\n{"arg1": 1, "arg2": 2}', calls=[CALL, CALL_OPT], template=F32)
case("functionary v3.2 python", "ours", "python\nprint('hey')",
     calls=[{"name": "python", "arguments": '{"code": "print(\'hey\')"}'}], template=F32)
case("functionary v3.2 no recipient", "ours", "Hello there", "Hello there", template=F32)

# ---- FireFunction v2 (template not in testdata: format given) ----
case("firefunction content", "test-chat.cpp:5970", HELLO, HELLO, fmt="FireFunction")
case("firefunction call", "test-chat.cpp:5971", ' functools[{"name": "special_function", "arguments": {"arg1": 1}}]',
     calls=[CALL], fmt="FireFunction")
case("firefunction parallel", "ours",
     ' functools[{"name": "special_function", "arguments": {"arg1": 1}}, {"name": "special_function_with_opt", "arguments": {"arg1": 1, "arg2": 2}}]',
     calls=[CALL, CALL_OPT], fmt="FireFunction")

# ---- Command R7B ----
CR = "CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja"
case("command-r7b content", "test-chat.cpp:5879", "<|START_RESPONSE|>" + HELLO + "<|END_RESPONSE|>", HELLO, template=CR)
case("command-r7b thoughts and call", "test-chat.cpp:5880",
     "<|START_THINKING|>I'm\nthinking<|END_THINKING|><|START_ACTION|>[\n"
     '    {"tool_call_id": "0", "tool_name": "special_function", "parameters": {"arg1": 1}}\n]<|END_ACTION|>',
     reasoning=THOUGHTS, calls=[dict(CALL, id="0")], template=CR, reasoning_format="deepseek")
case("command-r7b parallel", "ours",
     '<|START_ACTION|>[{"tool_call_id": "0", "tool_name": "special_function", "parameters": {"arg1": 1}}, '
     '{"tool_call_id": "1", "tool_name": "special_function_with_opt", "parameters": {"arg1": 1, "arg2": 2}}]<|END_ACTION|>',
     calls=[dict(CALL, id="0"), dict(CALL_OPT, id="1")], template=CR)
case("command-r7b content then call", "ours",
     '<|START_RESPONSE|>Sure.<|END_RESPONSE|><|START_ACTION|>[{"tool_call_id": "0", "tool_name": "special_function", "parameters": {"arg1": 1}}]<|END_ACTION|>',
     "Sure.", calls=[dict(CALL, id="0")], template=CR)
case("command-r7b thoughts kept (none)", "ours", "<|START_THINKING|>I'm\nthinking<|END_THINKING|>" + HELLO,
     "<|START_THINKING|>I'm\nthinking<|END_THINKING|>" + HELLO, template=CR, reasoning_format="none", tools=False)

# ---- DeepSeek R1 (forced-open thinking from the generation prompt) ----
DR = "llama-cpp-deepseek-r1.jinja"
DQ = "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"
DS_CALL = ("<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>special_function\n"
           "```json\n{\"arg1\": 1}```<｜tool▁call▁end｜><｜tool▁calls▁end｜>")
DS_OPT = ("<｜tool▁call▁begin｜>function<｜tool▁sep｜>special_function_with_opt\n"
          "```json\n{\"arg1\": 1, \"arg2\": 2}\n```<｜tool▁call▁end｜>")
case("deepseek-r1 empty thoughts", "test-chat.cpp:6025", "</think>" + HELLO, HELLO, template=DR, reasoning_format="deepseek")
case("deepseek-r1 thoughts", "test-chat.cpp:6026", "I'm\nthinking</think>" + HELLO, HELLO, THOUGHTS, template=DR,
     reasoning_format="deepseek")
case("deepseek-r1 call", "test-chat.cpp:6030", "</think>" + DS_CALL, calls=[CALL], template=DR, reasoning_format="deepseek")
case("deepseek-r1 distill qwen thoughts", "test-chat.cpp:6067", "I'm\nthinking</think>" + HELLO, HELLO, THOUGHTS,
     template=DQ, reasoning_format="deepseek")
case("deepseek-r1 thoughts kept (none)", "ours", "I'm\nthinking</think>" + HELLO, "I'm\nthinking</think>" + HELLO,
     template=DQ, reasoning_format="none")
case("deepseek-r1 thoughts content parallel", "ours",
     "I'm\nthinking</think>" + HELLO + "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>special_function\n"
     "```json\n{\"arg1\": 1}\n```<｜tool▁call▁end｜>\n" + DS_OPT + "<｜tool▁calls▁end｜>",
     HELLO, THOUGHTS, calls=[CALL, CALL_OPT], template=DQ)
case("deepseek-r1 unfinished thoughts", "ours", "I'm\nthinking", "", THOUGHTS, template=DQ)
case("deepseek v3.1 style call", "ours",
     "</think><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>special_function<｜tool▁sep｜>{\"arg1\": 1}<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
     calls=[CALL], template=DQ)

# ---- Granite 3.3 ----
G33 = "ibm-granite-granite-3.3-2B-Instruct.jinja"
case("granite content", "test-chat.cpp:3369", HELLO, HELLO, template=G33)
case("granite thoughts", "test-chat.cpp:3371", "<think>I'm\nthinking</think>" + HELLO, HELLO, THOUGHTS, template=G33,
     reasoning_format="deepseek")
case("granite thoughts response", "test-chat.cpp:3376 (pending upstream)",
     "<think>I'm\nthinking</think><response>" + HELLO + "</response>", HELLO, THOUGHTS, template=G33)
case("granite call", "ours (llama.cpp b5000 test-chat.cpp)",
     '<|tool_call|>[{"name": "special_function", "arguments": {"arg1": 1}}]', calls=[CALL], template=G33)
case("granite parallel after content", "ours",
     'Sure.<|tool_call|>[{"name": "special_function", "arguments": {"arg1": 1}}, {"name": "special_function_with_opt", "arguments": {"arg1": 1, "arg2": 2}}]',
     "Sure.", calls=[CALL, CALL_OPT], template=G33)

# ---- Nemotron Nano v2 ----
NV = "NVIDIA-Nemotron-Nano-v2.jinja"
case("nemotron v2 thoughts call", "test-chat.cpp:5852",
     "I'm\nthinking\n</think>\n<TOOLCALL>[{\"name\": \"special_function\", \"arguments\": {\"arg1\": 1}}]</TOOLCALL>",
     reasoning=THOUGHTS, calls=[CALL], template=NV)

# ---- QwQ (forced-open thinking) ----
case("qwq thoughts", "test-chat.cpp:3300", "Let me think about this...\n</think>\nThe answer is 42.", "The answer is 42.",
     "Let me think about this...", template="Qwen-QwQ-32B.jinja", tools=False)
case("qwq empty thoughts", "test-chat.cpp:3305", "</think>Hello, world!", "Hello, world!", template="Qwen-QwQ-32B.jinja",
     tools=False)

# ---- Generic JSON fallback ----
GEN = "google-gemma-2-2b-it.jinja"
case("generic content-only without tools", "test-chat.cpp:3362", HELLO, HELLO, template=GEN, tools=False)
case("generic call", "ours (llama.cpp b5000 test-chat.cpp)",
     '{"tool_call": {"name": "special_function", "arguments": {"arg1": 1}}}', calls=[CALL], template=GEN)
case("generic parallel", "ours",
     '{"tool_calls": [{"name": "special_function", "arguments": {"arg1": 1}}, {"name": "special_function_with_opt", "arguments": {"arg1": 1, "arg2": 2}}]}',
     calls=[CALL, CALL_OPT], template=GEN)
case("generic response", "ours (llama.cpp b5000 test-chat.cpp)", '{\n  "response": "Hello, world!\\nWhat\'s up?"\n}',
     HELLO, template=GEN)
case("generic plain text", "ours", HELLO, HELLO, template=GEN)
case("generic truncated", "ours", '{"tool_calls": [{"name": "special_function", "arguments": {"arg1"',
     '{"tool_calls": [{"name": "special_function", "arguments": {"arg1"', template=GEN, truncated=True)

# ---- malformed output and the remaining per-format combinations (all ours) ----
case("qwen3-coder malformed", "ours", "<tool_call>\nhello</tool_call>", "<tool_call>\nhello</tool_call>", template=QC)
case("mistral truncated", "ours", '[TOOL_CALLS][{"name": "special_function", "arguments": {"arg1": 1}, "id": "1234',
     '[TOOL_CALLS][{"name": "special_function", "arguments": {"arg1": 1}, "id": "1234', template=MN, truncated=True)
case("firefunction content then call", "ours", 'Sure. functools[{"name": "special_function", "arguments": {"arg1": 1}}]',
     "Sure.", calls=[CALL], fmt="FireFunction")
case("firefunction malformed", "ours", "Use functools[oops]", "Use functools[oops]", fmt="FireFunction")
case("command-r7b malformed", "ours", "<|START_ACTION|>oops<|END_ACTION|>", "<|START_ACTION|>oops<|END_ACTION|>", template=CR)
case("deepseek-r1 malformed", "ours", "</think>Hi<｜tool▁calls▁begin｜>oops", "Hi<｜tool▁calls▁begin｜>oops", template=DQ)
case("granite malformed", "ours", "<|tool_call|>oops", "<|tool_call|>oops", template=G33)
case("nemotron v2 content", "ours", "</think>" + HELLO, HELLO, template=NV)
case("nemotron v2 content then parallel", "ours",
     '</think>Sure.<TOOLCALL>[{"name": "special_function", "arguments": {"arg1": 1}}, '
     '{"name": "special_function_with_opt", "arguments": {"arg1": 1, "arg2": 2}}]</TOOLCALL>',
     "Sure.", calls=[CALL, CALL_OPT], template=NV)
case("nemotron v2 malformed", "ours", "</think><TOOLCALL>oops</TOOLCALL>", "<TOOLCALL>oops</TOOLCALL>", template=NV)

print(json.dumps({"about": __doc__.strip(), "cases": cases}, ensure_ascii=False, indent=1))
