package config

// OnClientsReload makes the registry of f's clients_file report every
// reload attempt to fn (clients.Options.OnReload). Call it before f.Config.
func OnClientsReload(f *File, fn func(error)) { f.onReload = fn }
