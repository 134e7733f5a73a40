"""GOG itself as a source plug-in: account login, GOG's content-system hosts and dynamic
endpoints. It reads through the net layer and never imports the update engine."""
