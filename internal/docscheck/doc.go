// Package docscheck holds no code: its tests check the Markdown documentation
// the way a docs build and a newcomer would. Every relative link must lead to
// a file, and to a heading when it names one; every `kioskctl …` and
// `make …` the docs show must be a command that exists, so a page never
// sends a reader to something that was renamed or removed.
package docscheck
