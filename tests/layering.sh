#!/bin/sh
# DESIGN.md's layering, checked: only jit/ includes llvm-c; runtime/ includes
# nothing above it; graph/ nothing above runtime; bench/, tools/, examples/
# only the public header.
root=${1:-.}
cd "$root" || exit 2
fail=0
bad() { echo "layering: $*"; fail=1; }
for f in $(grep -rl --include='*.[ch]' 'llvm-c/' runtime graph frontend tools bench examples include 2>/dev/null); do
  bad "$f includes llvm-c (only jit/ may)"; done
for f in $(grep -rlE --include='*.[ch]' '#include +"(graph|jit|frontend)/' runtime 2>/dev/null); do
  bad "$f: runtime/ includes an upper layer"; done
for f in $(grep -rlE --include='*.[ch]' '#include +"(jit|frontend)/' graph 2>/dev/null); do
  bad "$f: graph/ includes jit/ or frontend/"; done
for f in $(grep -rlE --include='*.[ch]' '#include +"(runtime|graph|jit|frontend)/' bench tools examples 2>/dev/null); do
  bad "$f: uses internal headers (public API only)"; done
[ $fail -eq 0 ] && echo "layering: ok"
exit $fail
