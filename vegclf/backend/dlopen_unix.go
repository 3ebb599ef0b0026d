//go:build cgo && (linux || darwin)

package backend

/*
#cgo linux LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

static const char *load_global(const char *path) {
	if (dlopen(path, RTLD_NOW | RTLD_GLOBAL) == NULL) {
		return dlerror();
	}
	return NULL;
}

static int is_loaded(const char *name) {
	void *h = dlopen(name, RTLD_NOW | RTLD_NOLOAD);
	if (h == NULL) {
		return 0;
	}
	dlclose(h);
	return 1;
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// loadGlobal loads the shared library at path into the process, its symbols visible to the libraries
// loaded after it (RTLD_GLOBAL); it stays loaded.
func loadGlobal(path string) error {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	if msg := C.load_global(cpath); msg != nil {
		return errors.New(C.GoString(msg))
	}
	return nil
}

// isLoaded reports whether a library is already loaded under name (a path, or a soname as a plugin
// asks for it), without loading it.
func isLoaded(name string) bool {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return C.is_loaded(cname) == 1
}
