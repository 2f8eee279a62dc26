// Package tests holds the ginadapter tests that need real drivers, in a
// module of their own so that ginadapter's go.mod requires no driver.
package tests
