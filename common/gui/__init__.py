"""The Tk views of the classchat GUI client: the window and the connect dialog, the widgets, the model of
conversations they draw, settings and themes. The only package of ``common`` that imports tkinter; it runs on
the Tk main thread and hears the session only through its event queue."""
