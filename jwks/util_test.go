package jwks_test

import "runtime"

func runtimeGosched() { runtime.Gosched() }
