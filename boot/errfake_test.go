package boot

import "errors"

var errFake = errors.New("fake failure")
