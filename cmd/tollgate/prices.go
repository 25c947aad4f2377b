package main

import (
	"fmt"
	"os"

	"github.com/tollgate-dev/tollgate/internal/catalog"
)

// loadPrices lays the price overrides of the file at path over c,
// failing start-up on any problem (each named with its line).
func loadPrices(c *catalog.Catalog, path string) (*catalog.Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("prices file: %w", err)
	}
	prices, err := catalog.ParsePrices(path, data)
	if err != nil {
		return nil, fmt.Errorf("prices file: %w", err)
	}
	return c.WithPrices(prices)
}
