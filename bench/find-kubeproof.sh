# Sourced by the bench scripts: sets `kubeproof_bin` to kubeproof on PATH, else the repo's build/kubeproof.
# (The stand-alone agent tools the first benches used are gone: `kubeproof agent …` and `kubeproof http` are it.)
kubeproof_bin=""
if command -v kubeproof >/dev/null; then
  kubeproof_bin=$(command -v kubeproof)
elif [[ -x "$repo/build/kubeproof" ]]; then
  kubeproof_bin="$repo/build/kubeproof"
fi
