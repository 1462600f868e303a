package dualauth

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/jwks"
)

// Config checks f and builds the Config it describes, with a key set per
// issuer: jwks.NewRemote for jwks_url, jwks.NewDiscovered for discovery and
// jwks.LoadPEMFile for public_key_file. Remote sets use the jwt.jwks options
// and the issuer's allow_insecure_http, log to logger (which is also the
// Config's Logger; nil discards) and refresh in the background until ctx
// ends. An unreachable key server does not fail Config; an unreadable public
// key file does.
//
// With credentials.clients_file, Config opens the registry with clients.Open
// (an unreadable or broken file fails Config) and keeps it in step with the
// file, polling every reload_interval and on SIGHUP, until ctx ends; client
// credentials are then checked by RegistryVerifier. With
// credentials.exchange it builds the exchange.Client instead.
func (f *ConfigFile) Config(ctx context.Context, logger *slog.Logger) (Config, error) {
	if err := f.validate(); err != nil {
		return Config{}, err
	}
	// The registry is a file too: read before any refresh starts.
	reg, err := f.openClients(logger)
	if err != nil {
		return Config{}, err
	}
	cfg, err := f.config(ctx, logger, reg)
	if err != nil {
		return Config{}, err
	}
	watchClients(ctx, reg)
	return cfg, nil
}

// config builds the Config of a checked f, with reg from openClients.
func (f *ConfigFile) config(ctx context.Context, logger *slog.Logger, reg *clients.Registry) (Config, error) {
	cred, err := f.credentials(reg)
	if err != nil {
		return Config{}, err
	}
	j := f.JWT
	cfg := Config{
		Mode:          f.Mode,
		Realm:         f.Realm,
		Algorithms:    slices.Clone(j.Algorithms),
		ScopeClaims:   slices.Clone(j.ScopeClaims),
		RequireType:   j.RequireType,
		MaxTokenBytes: j.MaxTokenBytes,
		Logger:        logger,
		Credentials:   cred,
	}
	if j.Leeway != nil {
		cfg.Leeway = time.Duration(*j.Leeway)
		if cfg.Leeway == 0 {
			cfg.Leeway = NoLeeway // Config reads 0 as DefaultLeeway
		}
	}
	keys := make([]jwks.Set, len(j.Issuers))
	// Files first, so a missing one fails before any refresh starts.
	for i, iss := range j.Issuers {
		if iss.PublicKeyFile == "" {
			continue
		}
		set, err := jwks.LoadPEMFile(f.resolve(iss.PublicKeyFile))
		if err != nil {
			return Config{}, f.wrap(issuerPath(i)+".public_key_file", err)
		}
		keys[i] = set
	}
	// Each NewRemote fetches its set once before it returns (failures are
	// retried in the background); fetching in parallel bounds the start to
	// one timeout however many issuers there are.
	ctx, cancel := context.WithCancel(ctx)
	built := false
	defer func() {
		if !built {
			cancel() // stop the sets started before the failure
		}
	}()
	errs := make([]error, len(j.Issuers))
	var wg sync.WaitGroup
	for i, iss := range j.Issuers {
		if iss.PublicKeyFile != "" {
			continue
		}
		opts := jwks.Options{
			RefreshInterval:    time.Duration(j.JWKS.RefreshInterval),
			UnknownKIDInterval: time.Duration(j.JWKS.UnknownKIDInterval),
			Timeout:            time.Duration(j.JWKS.Timeout),
			MaxBytes:           j.JWKS.MaxBytes,
			AllowInsecureHTTP:  iss.AllowInsecureHTTP,
		}
		if logger != nil {
			opts.Logger = logger.With("issuer", iss.Issuer)
		}
		wg.Go(func() {
			var set *jwks.Remote
			if iss.Discovery {
				set, errs[i] = jwks.NewDiscovered(ctx, iss.Issuer, opts)
			} else {
				set, errs[i] = jwks.NewRemote(ctx, iss.JWKSURL, opts)
			}
			if errs[i] == nil {
				keys[i] = set
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			continue
		}
		for _, set := range keys {
			if r, ok := set.(*jwks.Remote); ok {
				r.Close()
			}
		}
		key := issuerPath(i) + ".jwks_url"
		if j.Issuers[i].Discovery {
			key = issuerPath(i) + ".discovery"
		}
		return Config{}, f.wrap(key, err)
	}
	for i, iss := range j.Issuers {
		cfg.Issuers = append(cfg.Issuers, Issuer{
			Issuer:    iss.Issuer,
			Audiences: slices.Clone(iss.Audiences),
			Keys:      keys[i],
		})
	}
	built = true
	return cfg, nil
}
