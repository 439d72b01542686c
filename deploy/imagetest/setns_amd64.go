package imagetest

// sysSetns is setns(2), missing from package syscall.
const sysSetns = 308
