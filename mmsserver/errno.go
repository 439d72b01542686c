package mmsserver

import "syscall"

// syscallEMFILE is "too many open files": Accept backs off instead of failing.
var syscallEMFILE error = syscall.EMFILE
