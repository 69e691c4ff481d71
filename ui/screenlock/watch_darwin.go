//go:build darwin && cgo

package screenlock

// UNTESTED: written without a Mac to build or run it on. It hears
// com.apple.screenIsLocked (posted by loginwindow when the screen locks)
// on the distributed notification centre, and
// NSWorkspaceSessionDidResignActiveNotification (fast user switching) on
// the workspace's, both delivered on the main thread's run loop, which
// the window's event loop runs.

/*
#cgo CFLAGS: -x objective-c
#cgo LDFLAGS: -framework Cocoa
#import <Cocoa/Cocoa.h>
#include <stdint.h>

extern void screenlockGoLocked(uintptr_t handle);
extern void screenlockGoForget(uintptr_t handle);

static void screenlockCFLocked(CFNotificationCenterRef center, void *observer, CFNotificationName name, const void *object, CFDictionaryRef info) {
	screenlockGoLocked((uintptr_t)observer);
}

static void *screenlockStart(uintptr_t handle) {
	__block id token = nil;
	dispatch_sync(dispatch_get_main_queue(), ^{
		@autoreleasepool {
			CFNotificationCenterAddObserver(CFNotificationCenterGetDistributedCenter(), (const void *)handle,
				screenlockCFLocked, CFSTR("com.apple.screenIsLocked"), NULL,
				CFNotificationSuspensionBehaviorDeliverImmediately);
			token = [[[[NSWorkspace sharedWorkspace] notificationCenter]
				addObserverForName:NSWorkspaceSessionDidResignActiveNotification object:nil
				queue:[NSOperationQueue mainQueue] usingBlock:^(NSNotification *note) {
					screenlockGoLocked(handle);
				}] retain];
		}
	});
	return (void *)token;
}

static void screenlockStop(uintptr_t handle, void *token) {
	dispatch_async(dispatch_get_main_queue(), ^{
		@autoreleasepool {
			CFNotificationCenterRemoveObserver(CFNotificationCenterGetDistributedCenter(), (const void *)handle,
				CFSTR("com.apple.screenIsLocked"), NULL);
			if (token != NULL) {
				[[[NSWorkspace sharedWorkspace] notificationCenter] removeObserver:(id)token];
				[(id)token release];
			}
		}
		screenlockGoForget(handle);
	});
}
*/
import "C"

import (
	"context"
	"runtime/cgo"
	"unsafe"
)

// watcher is what a cgo.Handle passed to the notification centres holds.
type watcher struct {
	ctx  context.Context
	lock func()
}

// Watch calls lock, on a goroutine of its own, each time macOS says the
// screen was locked or this user's session was switched away from, until
// ctx ends. It returns at once; the observers are registered on the main
// thread once the window's event loop runs it.
func Watch(ctx context.Context, lock func()) {
	go func() {
		h := cgo.NewHandle(&watcher{ctx: ctx, lock: lock})
		token := C.screenlockStart(C.uintptr_t(h))
		<-ctx.Done()
		C.screenlockStop(C.uintptr_t(h), unsafe.Pointer(token))
	}()
}

//export screenlockGoLocked
func screenlockGoLocked(h C.uintptr_t) {
	w := cgo.Handle(h).Value().(*watcher)
	if w.ctx.Err() == nil {
		go w.lock()
	}
}

//export screenlockGoForget
func screenlockGoForget(h C.uintptr_t) { cgo.Handle(h).Delete() }
