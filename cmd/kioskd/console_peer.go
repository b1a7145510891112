package main

import (
	"context"
	"net"
	"net/http"
	"os/user"
	"strconv"
	"strings"
)

type peerKey struct{}

// peer is the process at the other end of the control socket.
type peer struct {
	uid  int
	name string
}

// withPeer stamps each control connection with the unix user behind it, as
// the kernel tells (SO_PEERCRED), so that the audit names who ran what.
func withPeer(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	uid, ok := peerUID(uc)
	if !ok {
		return ctx
	}
	p := peer{uid: uid, name: "uid" + strconv.Itoa(uid)}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" {
		p.name = u.Username
	}
	return context.WithValue(ctx, peerKey{}, p)
}

// actorOf is the audit actor of a control request: "ssh:<user>" of the
// socket's peer. What the client claims counts only where the kernel does
// not tell, or to name the person behind root (sudo kioskctl).
func actorOf(r *http.Request, claimed string) string {
	claimed = strings.TrimPrefix(strings.TrimSpace(claimed), "ssh:")
	if len(claimed) > 32 || strings.ContainsAny(claimed, " \t\r\n") {
		claimed = ""
	}
	p, ok := r.Context().Value(peerKey{}).(peer)
	switch {
	case !ok && claimed != "":
		return "ssh:" + claimed + "?"
	case !ok:
		return "ssh:unknown"
	case p.uid == 0 && claimed != "" && claimed != p.name:
		return "ssh:" + claimed + "(" + p.name + ")"
	}
	return "ssh:" + p.name
}
