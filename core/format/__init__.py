"""GOG content-system v2 documents: frozen models, strict readers and writers."""
