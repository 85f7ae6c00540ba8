"""Copies a tensor-less GGUF (argv[1]) to argv[2] with tokenizer.ggml.pre set to argv[3]."""
import struct,sys
src,dst,pre=sys.argv[1:4]
d=open(src,'rb').read(); o=0
def rd(fmt):
    global o; v=struct.unpack_from('<'+fmt,d,o); o+=struct.calcsize('<'+fmt); return v[0]
SZ={0:1,1:1,2:2,3:2,4:4,5:4,6:4,7:1,10:8,11:8,12:8}
def skipval(t):
    global o
    if t==8: n=rd('Q'); o+=n
    elif t==9:
        at=rd('I'); n=rd('Q')
        if at==8:
            for _ in range(n): m=rd('Q'); o+=m
        else: o+=SZ[at]*n
    else: o+=SZ[t]
magic=d[:4]; o=4; ver=rd('I'); nt=rd('Q'); nkv=rd('Q'); assert nt==0
out=[magic,struct.pack('<IQQ',ver,nt,nkv)]
for _ in range(nkv):
    s=o; kl=rd('Q'); k=d[o:o+kl].decode(); o+=kl; t=rd('I'); vs=o; skipval(t)
    if k=='tokenizer.ggml.pre':
        b=pre.encode(); out.append(d[s:vs]+struct.pack('<Q',len(b))+b)
    else: out.append(d[s:o])
body=b''.join(out); body+=b'\0'*((-len(body))%32)
open(dst,'wb').write(body)
