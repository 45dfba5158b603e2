"""The local stack: emulators, a real kube-apiserver, a git server and the four functions."""
