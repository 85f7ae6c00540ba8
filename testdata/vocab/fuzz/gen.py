"""Writes fuzz.inp: random mixed-script texts (fixed seed), the first 12,000 characters of llama.cpp's
src/llama-vocab.cpp (argv[1]) in two pieces, and the qwen35 test texts."""
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
random.seed(12345)
words = ["Hello","world","the","quick","brown","fox","I","a","apple","HTTP","camelCase","snake_case","x","Zz",
 "café","straße","Äpfel","naïve","ΑΒΓ","καλημέρα","нещо","Български","我想在","工作","天","한국어","かな","カタカナ","ｶﾀｶﾅ",
 "नमस्ते","ภาษาไทย","مرحبا","שלום","កាន់តែពិសេស","ǅungla","ﬁne","Ｈｅｌｌｏ","ℌ","𝔘𝔫𝔦","ᏣᎳᎩ","ⰀⰁ","Ꙁ","ꞋꞌǄ","µ"]
digits = ["3","33","333","3333","1234567","0","٣٤٥","१२३","½","²","Ⅻ","①","12.5","3..3","1,000"]
punct = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["...","!!!","?!","--","==","->","::","''''","```","\"\"\"",
 "。","，","、","「","」","！","（","）","～","‘","’","“","”","…","—","–","·","•","∑","≤","€","£","¥","©","®","™","°","§","¶"]
contr = ["'s","'t","'re","'ve","'m","'ll","'d","'S","'T","'RE","'Ve","'M","'LL","'D","'x"]
spaces = [" ","  ","   ","     ","\t","\t\t","\n","\n\n","\n\n\n","\r\n","\r"," \n"," \t ","\x0b","\x0c","\x1c","\x1f",
 "\u0085","\u00a0","\u2000","\u2009","\u3000","\u2028","\u2029","\u202f","\u205f","\u1680"," \u00a0 "]
other = ["🦙","🚀","😶\u200d🌫\ufe0f","✅","😁","👍🏽","\u0301","e\u0301","\u200b","\u200d","\ufe0f","\ue000","\u0378","\U0001F9FF",
 "<|endoftext|>","<s>","</s>","<|im_start|>","<unk>","<|end|>","<mask>","[MASK]","<|assistant|>","\x7f","\ufffd","ſ","İ","K"]
pools = [(words,30),(digits,8),(punct,12),(contr,4),(spaces,20),(other,6)]
def piece():
    r = random.random()*sum(w for _,w in pools)
    for p,w in pools:
        if r < w: return random.choice(p)
        r -= w
    return "x"
texts = []
for i in range(300):
    n = random.randint(1, 30)
    texts.append("".join(piece() for _ in range(n)))
big = open(sys.argv[1], encoding='utf8').read()[:12000]
for i in range(0, len(big), 6000):
    texts.append(big[i:i+6000])
for t in open(os.path.join(HERE, '..', 'ggml-vocab-qwen35.gguf.inp'), encoding='utf8').read().split("\n__ggml_vocab_test__\n"):
    if t: texts.append(t)
sep = "\n__ggml_vocab_test__\n"
assert all(sep not in t for t in texts)
open(os.path.join(HERE, 'fuzz.inp'), 'w', encoding='utf8', newline='').write(sep.join(texts) + sep)
print(len(texts))
