package main

import "os"

// hangups: Windows has no SIGHUP.
func hangups() (c <-chan os.Signal, stop func()) { return nil, func() {} }
