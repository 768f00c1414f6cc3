//go:build !unix && !windows

package folder

import "errors"

func isCrossDevice(error) bool { return false }

func isInvalid(error) bool { return false }

func heldOpen(error) bool { return false }

func renameAcross(place, string, place, string) error { return errors.ErrUnsupported }

// oNonblock: no such flag here.
const oNonblock = 0

func reservedName(string) bool { return false }
