package mllp

import "golang.org/x/sys/windows"

// How a reset reaches a read on Windows.
const resetCall, resetErrno = "wsarecv", windows.WSAECONNRESET
